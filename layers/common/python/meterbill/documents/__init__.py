"""What a customer receives, as bytes: the invoice PDF (PDF/A-3B), its Factur-X / EN 16931 XML, the signature.

Pure: values in (the issued invoice, the seller's and buyer's details), bytes out. Storing and sending them is
the services' and adapters' job.
"""
