"""Serializers shared by the commissions app's APIs."""

from rest_framework import serializers


class DecisionSerializer(serializers.Serializer):
    """A superior's approval or refusal (refinancing requests, exonerations): an
    optional note. One class, so the OpenAPI schema has one `DecisionRequest`."""

    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
