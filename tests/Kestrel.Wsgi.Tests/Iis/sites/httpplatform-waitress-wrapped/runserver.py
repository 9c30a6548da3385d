import sys
import waitress
from paste.translogger import TransLogger
from hub import create_app

app = create_app("production")
waitress.serve(TransLogger(app), port=int(sys.argv[1]))
