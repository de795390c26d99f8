"""The FastAPI scoring service that loads a trained bundle."""
