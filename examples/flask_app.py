"""A small Flask app: `kwsgi examples.flask_app:app` (needs Flask in the chosen Python)."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "<!doctype html><title>kwsgi</title><h1>Hello from Flask on kwsgi</h1>"


@app.route("/json")
def as_json():
    return jsonify(server=request.environ.get("SERVER_SOFTWARE"), path=request.path)


@app.route("/echo", methods=["POST"])
def echo():
    return request.get_data(), 200, {"Content-Type": request.content_type or "application/octet-stream"}


def create_app():
    """An application factory, for `kwsgi --call examples.flask_app:create_app`."""
    return app
