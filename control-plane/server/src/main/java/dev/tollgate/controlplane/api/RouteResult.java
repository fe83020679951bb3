package dev.tollgate.controlplane.api;

/** What a route answers: a complete response, or a stream the handler starts on the connection's event loop. */
public sealed interface RouteResult permits ApiResponse, StreamingResponse {
}
