from delinkcious.server import serve
from delinkcious.settings import load_settings
from user_service.settings import UserSettings
from user_service.transport import create_app


def main() -> None:
    settings = load_settings(UserSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
