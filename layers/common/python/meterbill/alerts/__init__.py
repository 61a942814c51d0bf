"""Alerts in the pure core: the detectors (meters that go quiet, energy that disappears, lying counters, ...)
and the alert lifecycle (pending, firing, resolved, acknowledged; reminders, grouping, inhibition, silences).

Values in (meter data, catalog objects, rules, the time as a value), values out; storing alerts and publishing
them to SNS is the services' and adapters' job.
"""
