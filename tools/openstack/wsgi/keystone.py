# uWSGI entry point of Keystone's public API (the lab sets OS_KEYSTONE_CONFIG_DIR).
from keystone.server.wsgi import initialize_public_application

application = initialize_public_application()
