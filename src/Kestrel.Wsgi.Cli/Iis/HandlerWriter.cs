using System.Xml.Linq;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Writes one of the two reverse-proxy forms IIS can start kwsgi with: the handler entry that routes requests
/// to the module and the section that says how to start the process.
/// </summary>
internal abstract class HandlerWriter
{
    /// <summary>Attribute defaults for a new section: stdout to a log file, time for every worker to import the app.</summary>
    protected const string StartupTimeLimit = "60";

    /// <summary>The element name: httpPlatform or aspNetCore.</summary>
    public abstract string SectionName { get; }

    /// <summary>The IIS module the handler entry names.</summary>
    public abstract string Module { get; }

    /// <summary>The name IIS's own documentation gives the handler entry.</summary>
    public abstract string DefaultHandlerName { get; }

    public abstract string DefaultLogFile { get; }

    /// <summary>The port arguments: IIS's HttpPlatformHandler substitutes its port into the command line, ANCM does not.</summary>
    public abstract IReadOnlyList<string> PortArguments { get; }

    /// <summary>The section attributes this handler understands beyond processPath and arguments (others are not carried across).</summary>
    public abstract IReadOnlySet<string> KnownAttributes { get; }

    public static HandlerWriter For(bool aspNetCore) => aspNetCore ? new AspNetCoreWriter() : new HttpPlatformWriter();

    public XElement HandlerEntry(XNamespace ns, string name) =>
        new(ns + "add",
            new XAttribute("name", name),
            new XAttribute("path", "*"),
            new XAttribute("verb", "*"),
            new XAttribute("modules", Module),
            new XAttribute("resourceType", "Unspecified"),
            new XAttribute("requireAccess", "Script"));

    public XElement Section(XNamespace ns, KwsgiLaunch launch)
    {
        var section = new XElement(ns + SectionName,
            new XAttribute("processPath", launch.ProcessPath),
            new XAttribute("arguments", WindowsCommandLine.Join(launch.Arguments)));
        foreach (var (name, value) in FixedAttributes)
        {
            section.SetAttributeValue(name, value);
        }
        var defaults = new Dictionary<string, string>
        {
            ["stdoutLogEnabled"] = "true",
            ["stdoutLogFile"] = DefaultLogFile,
            ["startupTimeLimit"] = StartupTimeLimit,
        };
        foreach (var (name, value) in launch.Attributes)
        {
            defaults[name] = value;
        }
        foreach (var (name, value) in defaults)
        {
            section.SetAttributeValue(name, value);
        }
        if (launch.Environment.Count > 0)
        {
            section.Add(new XElement(ns + "environmentVariables",
                launch.Environment.Select(v => new XElement(ns + "environmentVariable", new XAttribute("name", v.Key), new XAttribute("value", v.Value)))));
        }
        return section;
    }

    /// <summary>Attributes this form always has (ANCM: the out-of-process hosting model).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> FixedAttributes => [];
}
