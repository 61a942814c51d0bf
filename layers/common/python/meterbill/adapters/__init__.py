"""Adapters: the ports of ``meterbill.ports`` on real services. The only package that imports boto3, botocore
or pynamodb; everything else sees plain values and the port interfaces."""
