namespace Kestrel.Wsgi.Hosting;

/// <summary>How many workers must have loaded the app before kwsgi binds its port (<c>--ready-when</c>).</summary>
public enum ReadyWhen
{
    /// <summary>The first: the server answers sooner, on one worker's share of the CPU until the others join.</summary>
    One,

    /// <summary>Every worker: the first requests find the whole pool.</summary>
    All,
}
