from delinkcious.server import serve
from delinkcious.settings import load_settings
from delinkcious.tracing import configure_tracing
from link_checker.settings import CheckerSettings
from link_checker.transport import create_app


def main() -> None:
    settings = load_settings(CheckerSettings)
    configure_tracing(settings.service_name)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
