"""flask: one route returning a small HTML string."""
from flask import Flask

app = Flask(__name__)

PAGE = (
    "<!doctype html><html><head><title>kwsgi bench</title></head>"
    "<body><h1>Hello from Flask</h1><p>A small HTML page.</p></body></html>"
)


@app.route("/")
def index():
    return PAGE
