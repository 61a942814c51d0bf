"""The hosted HTTP API: powertools routes over the services, for API Gateway (REST API, Lambda proxy).

- ``app.create_app()`` builds the resolver: every router, the error mapping, the OpenAPI settings.
- ``gate`` checks what must hold before anything is parsed: body size, media type, key scope.
- ``dependencies`` gives routes the caller (account and scopes, from the authorizer) and the stores.
- ``problems`` is the one place errors become answers (RFC 9457 ``application/problem+json``).
- ``schemas`` holds the request and response models; ``routes/`` one router per resource.
- ``authorizer`` is the Lambda REQUEST authorizer's logic (API key → account and scopes).

Nothing here is imported by this package's ``__init__``, so the authorizer loads only what it needs.
"""
