# uWSGI entry point of Placement (the lab sets OS_PLACEMENT_CONFIG_DIR).
from placement.wsgi import init_application

application = init_application()
