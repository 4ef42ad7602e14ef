from api_gateway.settings import GatewaySettings
from api_gateway.transport import create_app
from delinkcious.server import serve
from delinkcious.settings import load_settings
from delinkcious.tracing import configure_tracing


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_tracing(settings.service_name)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
