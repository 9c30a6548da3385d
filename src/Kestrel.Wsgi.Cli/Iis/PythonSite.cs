using System.Xml.Linq;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// What a web.config says about the Python app it serves, as read by one of the site readers
/// (<see cref="WfastcgiSite"/>, <see cref="HeliconZooSite"/>, <see cref="ProxiedServerSite"/>), and which of
/// its elements belong to the old handler.
/// </summary>
internal sealed class PythonSite
{
    /// <summary>How the site is served today, for the summary: "wfastcgi (FastCGI)".</summary>
    public required string Kind { get; init; }

    /// <summary>The handler entries (<c>&lt;handlers&gt;&lt;add&gt;</c>) to replace; the first is replaced in place, the others removed.</summary>
    public required IReadOnlyList<XElement> Handlers { get; init; }

    /// <summary>The app in kwsgi's form (module:attr), or null when the file does not say.</summary>
    public string? App { get; set; }

    /// <summary>What to say when the file does not name the app and --app is not given: the form found, and --app.</summary>
    public string? WithoutApp { get; set; }

    /// <summary>Why the app the file names cannot be kwsgi's argument, while a reader is still reading.</summary>
    public string? AppRefusal { get; set; }

    public string? Python { get; set; }

    /// <summary>The interpreter path or engine name the old configuration used, for the version it spells.</summary>
    public string? PythonNamedBy { get; set; }

    /// <summary>kwsgi options other than the port, --python and the app (from a waitress or kwsgi command line).</summary>
    public List<string> Options { get; } = [];

    public List<KeyValuePair<string, string>> Environment { get; } = [];

    /// <summary>Attributes for the new handler section that the old configuration decided (stdoutLogFile, …).</summary>
    public List<KeyValuePair<string, string>> SectionAttributes { get; } = [];

    /// <summary>An httpPlatform or aspNetCore section already present (a reverse-proxied server).</summary>
    public XElement? Section { get; init; }

    /// <summary>True when the section already starts kwsgi.</summary>
    public bool RunsKwsgi { get; init; }

    /// <summary>
    /// Where the old handler mounted the app (wfastcgi's SCRIPT_NAME setting, Helicon Zoo's django.root): the value
    /// as written and the setting's name. It becomes --url-prefix once the target handler is known.
    /// </summary>
    public (string Value, string From)? MountPoint { get; set; }

    /// <summary>Elements that served only the old handler: removed (appSettings entries, a rewrite rule, the heliconZoo application).</summary>
    public List<XElement> Obsolete { get; } = [];

    /// <summary>What changes, one line each, for the summary.</summary>
    public List<string> Changes { get; } = [];

    /// <summary>What the user has to do by hand.</summary>
    public List<string> Notes { get; } = [];

    public void AddEnvironment(string name, string value, string from)
    {
        Environment.Add(new(name, value));
        Changes.Add($"{from} → environment variable {name}");
    }
}
