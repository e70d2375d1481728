"""Validators generated from ../schemas by `python -m contract.protocol.codegen`; do not edit.

One module per schema, each with a `validate(data)` that raises fastjsonschema's
JsonSchemaValueException; contract.protocol.payloads imports the one it needs on first use.
"""
