from flask import Flask, jsonify, request


def create_app():
    flask_app = Flask(__name__)

    @flask_app.route("/")
    def index():
        return "<h1>Hello from Flask</h1>"

    @flask_app.route("/json")
    def as_json():
        return jsonify(message="hello", numbers=[1, 2, 3])

    @flask_app.route("/echo", methods=["POST"])
    def echo():
        return request.get_data(), 200, {"Content-Type": "application/octet-stream"}

    return flask_app


app = create_app()
