from delinkcious.server import main
from delinkcious.tracing import configure_tracing
from user_service.settings import UserSettings
from user_service.transport import create_app, migrate

if __name__ == "__main__":
    configure_tracing(UserSettings.service_name)
    main(UserSettings, create_app, migrate)
