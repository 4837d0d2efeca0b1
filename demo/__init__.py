"""The Siamese Digits page (Gradio). Start it with `python app.py`; build it with
`demo.app.build_demo()`. Gradio lives here and in app.py only, never in `siamese`."""
