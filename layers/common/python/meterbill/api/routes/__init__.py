"""One powertools ``Router`` per resource; ``meterbill.api.app`` includes them all."""
