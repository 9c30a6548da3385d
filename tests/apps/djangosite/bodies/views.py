"""Views that report what Django made of a request body: request.body, and files from a multipart form."""
import hashlib

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def body(request):
    data = request.body
    return JsonResponse({"length": len(data), "sha256": hashlib.sha256(data).hexdigest()})


@csrf_exempt
def upload(request):
    files = {}
    for name, f in request.FILES.items():
        h = hashlib.sha256()
        size = 0
        for chunk in f.chunks():
            h.update(chunk)
            size += len(chunk)
        files[name] = {"filename": f.name, "length": size, "sha256": h.hexdigest()}
    return JsonResponse({"fields": dict(request.POST.items()), "files": files})
