using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Kestrel.Wsgi.Front;

/// <summary>Why a request forwarded to a worker did not end with the app's own answer; each maps to one status.</summary>
internal enum ForwardError
{
    None,
    /// <summary>The front's checks refused the request (RFC 9110/9112; <see cref="RequestValidator"/>): 400 or 431.</summary>
    RequestRejected,
    /// <summary>The path is outside <c>--url-prefix</c>: no app here, 404.</summary>
    OutsidePrefix,
    /// <summary>The request body is malformed, too slow or too large (Kestrel's or the front's limit): 400, 408 or 413; the connection closes.</summary>
    BodyRejected,
    /// <summary>Every worker is busy and the queue is full: 503 with Retry-After.</summary>
    Overloaded,
    /// <summary>The worker died with the request in flight: 502.</summary>
    WorkerLost,
    /// <summary>The worker broke the protocol: 502.</summary>
    BadResponse,
    /// <summary>The request ran past <c>--timeout</c> and its worker is being killed: 504.</summary>
    TimedOut,
    /// <summary>The app failed after its head was sent: nothing honest is left but dropping the connection.</summary>
    AppFailedAfterHead,
    /// <summary>The client left (or its upload could not be spooled): the connection is closed, never answered 200.</summary>
    ClientGone,
}

/// <summary>The one place a <see cref="ForwardError"/> becomes a status code and a one-line body.</summary>
internal static class ForwardErrors
{
    /// <param name="detail">The status a rejection carries (RequestRejected, BodyRejected); ignored otherwise.</param>
    public static int StatusOf(ForwardError error, int detail = 0) => error switch
    {
        ForwardError.RequestRejected or ForwardError.BodyRejected => detail,
        ForwardError.OutsidePrefix => StatusCodes.Status404NotFound,
        ForwardError.Overloaded => StatusCodes.Status503ServiceUnavailable,
        ForwardError.WorkerLost or ForwardError.BadResponse => StatusCodes.Status502BadGateway,
        ForwardError.TimedOut => StatusCodes.Status504GatewayTimeout,
        _ => 0,
    };

    /// <summary>The plain-text body: the reason phrase and why, in one line.</summary>
    public static string Describe(ForwardError error, int status, string? why) =>
        ReasonPhrases.GetReasonPhrase(status) + (error switch
        {
            ForwardError.OutsidePrefix => "",
            ForwardError.Overloaded => ": every worker is busy and the queue is full",
            ForwardError.WorkerLost => ": the worker serving this request died",
            ForwardError.BadResponse => ": the worker sent an invalid response",
            ForwardError.TimedOut => ": the app did not answer within the server's time limit",
            _ => why is null ? "" : ": " + why,
        }) + "\n";

    /// <summary>True when the connection cannot carry another request after this error (the rest of the request was never read).</summary>
    public static bool ClosesConnection(ForwardError error) => error is ForwardError.RequestRejected or ForwardError.BodyRejected;
}
