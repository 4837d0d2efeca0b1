"""Siamese Digits: `python app.py`, then open http://127.0.0.1:7860 (the page lives in demo/)."""
from demo.app import main

if __name__ == "__main__":
    main()
