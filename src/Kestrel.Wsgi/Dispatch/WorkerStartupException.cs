namespace Kestrel.Wsgi.Dispatch;

/// <summary>A worker could not load the app; <see cref="Exception.Message"/> is one sentence for the user.</summary>
public sealed class WorkerStartupException(string message, string details) : Exception(message)
{
    /// <summary>A Python traceback or other detail that explains the sentence; may be empty.</summary>
    public string Details { get; } = details;
}
