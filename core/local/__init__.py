"""Running the platform on this machine: an AWS emulator, the deployment, a local API gateway.

emulator/  the emulator process: moto's server with our patches (each with its "Upstream:" note)
apigw/     the local API gateway, answering as the deployed REST API does
lambdafn/  the functions, run as Lambda runs them (Runtime API, Invoke API, schedules)
lifecycle, smoke, processes, leftovers: ``local up | down | smoke`` put together
faults: ``local fault`` -- faults injected into the running deployment (its command: core/cli/local_fault.py)
"""

DEFAULT_ENVIRONMENT = "local"
