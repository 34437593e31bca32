# uWSGI entry point of Nova's compute API (the lab sets OS_NOVA_CONFIG_DIR; Nova
# reads api-paste.ini and nova.conf from there, the first as its paste pipeline).
from nova.api.openstack.compute.wsgi import init_application

application = init_application()
