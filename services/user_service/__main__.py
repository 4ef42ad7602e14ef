from delinkcious.server import main
from user_service.settings import UserSettings
from user_service.transport import create_app, migrate

if __name__ == "__main__":
    main(UserSettings, create_app, migrate)
