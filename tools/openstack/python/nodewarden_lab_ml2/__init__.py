"""A bind-only ML2 mechanism driver for the NodeWarden lab.

The lab runs neutron-server with no L2 agent. Without a mechanism driver that
binds ports, Nova's port binding fails and every server goes to ERROR. This
driver binds each port to the first segment it is offered with VIF type
`ovs`, as the Open vSwitch driver would, and marks it ACTIVE: there is no
dataplane, so nothing will ever report the port up. `admin_state_up` changes
therefore do not flip the port's status, unlike a cloud with agents.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class BindOnlyMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
