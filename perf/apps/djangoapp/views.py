from django.shortcuts import render

ITEMS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def index(request):
    return render(request, "index.html", {"title": "kwsgi bench", "items": ITEMS})
