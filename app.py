"""Siamese Digits: `python app.py`, then open http://127.0.0.1:7860 (the page lives in demo/)."""
import os

if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true"):  # a ZeroGPU Space
    import spaces  # before anything touches CUDA

    spaces.disable_gradio_auto_wrap()  # only retraining asks for a GPU, never a comparison

from demo.app import main  # noqa: E402

if __name__ == "__main__":
    main()
