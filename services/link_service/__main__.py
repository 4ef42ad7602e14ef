from delinkcious.server import main
from link_service.settings import LinkSettings
from link_service.transport import create_app, migrate

if __name__ == "__main__":
    main(LinkSettings, create_app, migrate)
