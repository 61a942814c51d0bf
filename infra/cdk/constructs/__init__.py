"""One construct per concern: storage, layer, functions, api, invoices, monitoring."""
