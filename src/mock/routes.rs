//! Which module answers which requests: one table, read in order, first match answers.

use http::{Response, StatusCode};

use super::context::Ctx;
use super::wire::{self, Generation, RespBody};
use super::{embed_app, routes_abac, routes_beta, routes_v1, routes_v2};

/// Whether a route takes a request, and what it answers.
type Route = (fn(&Ctx<'_>) -> bool, fn(&Ctx<'_>) -> Response<RespBody>);

/// The routes: the v2.0 calls with access rules, the rest of the REST API v2.0, the beta API, the v1 API, the embedded app's pages.
const ROUTES: &[Route] = &[
    (|ctx| routes_abac::serves(ctx.path), routes_abac::handle),
    (
        |ctx| Generation::of(ctx.path) == Generation::V2,
        routes_v2::handle,
    ),
    (
        |ctx| Generation::of(ctx.path) == Generation::Beta,
        routes_beta::handle,
    ),
    (
        |ctx| Generation::of(ctx.path) == Generation::V1,
        routes_v1::handle,
    ),
    (|ctx| embed_app::serves(ctx.path), embed_app::page),
];

/// The answer to a request inside the mock's prefix.
pub(crate) fn route(ctx: &Ctx<'_>) -> Response<RespBody> {
    ROUTES
        .iter()
        .find(|(takes, _)| takes(ctx))
        .map_or_else(not_found, |(_, answer)| answer(ctx))
}

pub(crate) fn not_found() -> Response<RespBody> {
    wire::response(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        wire::full("Not Found"),
    )
}
