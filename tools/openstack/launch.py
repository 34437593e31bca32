#!/usr/bin/python3
"""Runs one OpenStack command from Debian's python3-* packages.

The lab installs only the code packages (python3-nova, ...), not the service
packages that ship /usr/bin/nova-compute and friends, so this maps the command
names to the same console-script functions those packages' wrappers call.
`launch.py nova-compute --config-file nova.conf` behaves like `nova-compute
--config-file nova.conf`.
"""
import importlib
import sys

COMMANDS = {
    "keystone-manage": "keystone.cmd.manage:main",
    "placement-manage": "placement.cmd.manage:main",
    "glance-manage": "glance.cmd.manage:main",
    "glance-api": "glance.cmd.api:main",
    "neutron-db-manage": "neutron.db.migration.cli:main",
    "neutron-server": "neutron.cmd.eventlet.server:main",
    "nova-manage": "nova.cmd.manage:main",
    "nova-conductor": "nova.cmd.conductor:main",
    "nova-scheduler": "nova.cmd.scheduler:main",
    "nova-compute": "nova.cmd.compute:main",
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write("usage: launch.py <%s> [args...]\n" % "|".join(sorted(COMMANDS)))
        return 2
    name = sys.argv[1]
    module, func = COMMANDS[name].split(":")
    # oslo.config reads sys.argv[1:] and names the program from sys.argv[0].
    sys.argv = [name] + sys.argv[2:]
    try:
        import setproctitle  # shipped with python3-setproctitle (a neutron dependency)

        setproctitle.setproctitle(" ".join(sys.argv))
    except ImportError:
        pass
    return getattr(importlib.import_module(module), func)()


if __name__ == "__main__":
    sys.exit(main())
