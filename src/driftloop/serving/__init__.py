"""The endpoint: ASGI app, codecs, predictor, variants, capture and metrics."""
