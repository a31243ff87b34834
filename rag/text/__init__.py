"""Arabic text analysis: normalisation, stemming, language; instruction-like text detection."""
