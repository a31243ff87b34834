"""The offline embedding models."""
