namespace Kestrel.Wsgi.Hosting;

/// <summary>The command line or the environment asks for something impossible; the message is one sentence for the user.</summary>
public sealed class UsageException(string message) : Exception(message);
