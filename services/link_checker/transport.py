"""link-checker's small HTTP side: health, metrics and `POST /check`, the same
function a serverless platform (Knative, Nuclio) would invoke. The lifespan owns the
NATS connection and the consumers that do the everyday work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request

from delinkcious.app import create_service_app
from delinkcious.callers import callers
from delinkcious.events import EventBus
from delinkcious.models import CheckRequest
from delinkcious.observability import ReadinessCheck
from link_checker.addresses import AddressPolicy
from link_checker.checker import CheckOutcome, check_url, system_resolver
from link_checker.consumers import start_consumers
from link_checker.limits import CheckLimits
from link_checker.lookups import SharedLookups
from link_checker.service import Check, CheckReport, LinkCheckerService
from link_checker.settings import CheckerSettings

router = APIRouter()


@router.post("/check", dependencies=[callers("link-manager")])
async def check(body: CheckRequest, request: Request) -> CheckReport:
    service: LinkCheckerService = request.app.state.service
    return await service.check_and_report(body)


def url_checker(settings: CheckerSettings) -> Check:
    policy = AddressPolicy(allow_private=settings.allow_private_networks)
    limits = CheckLimits(
        concurrency=settings.check_concurrency,
        per_host=settings.check_per_host,
        connect_timeout=settings.connect_timeout_seconds,
        total_timeout=settings.check_timeout_seconds,
    )

    lookups = SharedLookups(system_resolver)

    async def check(url: str) -> CheckOutcome:
        return await check_url(url, policy=policy, limits=limits, resolver=lookups)

    return check


def create_app(settings: CheckerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = EventBus(settings.nats_url, settings.service_name)
        await bus.connect(wait_seconds=2)
        service = LinkCheckerService(url_checker(settings), bus)
        app.state.bus, app.state.service = bus, service
        stop = asyncio.Event()
        tasks = start_consumers(service, bus, stop, workers=settings.check_concurrency)
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
            for task in tasks:
                task.cancel()
            await bus.close()

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        return {"nats": app.state.bus.ping}

    return create_service_app(
        title="Delinkcious link-checker",
        settings=settings,
        lifespan=lifespan,
        routers=[router],
        readiness=readiness,
    )
