"""meterbill's on-site collector: reads meters over Modbus (TCP or RTU), keeps every reading in a local spool
until the hosted API has it, and reports its health in heartbeats. Imports nothing from the platform's
functions or AWS: it installs alone on a Raspberry Pi (``pip install 'meterbill[collector]'``)."""

VERSION = "1.0.0"
