from delinkcious.server import main
from delinkcious.tracing import configure_tracing
from link_service.settings import LinkSettings
from link_service.transport import create_app, migrate

if __name__ == "__main__":
    configure_tracing(LinkSettings.service_name)
    main(LinkSettings, create_app, migrate)
