"""Services: plain values and ports in, values out. The Lambda handlers and the CLI call these; nothing here
knows about HTTP, AWS or the event shapes (the adapters in ``meterbill.adapters`` implement the ports)."""
