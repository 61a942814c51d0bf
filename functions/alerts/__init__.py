"""The alerts functions: ``alerts_schedule_handler`` (every 5 minutes, every detector on every account) and
``alerts_readings_handler`` (SQS batches of ``ReadingsArrived``: registers and spikes on new readings).

Each is deployed from this folder as its own entry module (``alerts_schedule_handler.lambda_handler``), so
neither imports the other: each builds its ports on its first event (``backend()``)."""
