using System.Xml.Linq;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Edits that keep a hand-written file's layout: the document is loaded with its whitespace, so a new element
/// gets the indentation of its neighbours and a removed one takes its own line with it.
/// </summary>
internal static class XmlLayout
{
    private const string DefaultUnit = "  ";

    /// <summary>Child elements with this local name (web.config files are usually, not always, without a namespace).</summary>
    public static IEnumerable<XElement> Children(this XElement parent, string localName) =>
        parent.Elements().Where(e => e.Name.LocalName == localName);

    public static IEnumerable<XElement> Named(this XDocument doc, string localName) =>
        doc.Descendants().Where(e => e.Name.LocalName == localName);

    public static string? Attr(this XElement e, string name) => e.Attribute(name)?.Value;

    /// <summary>The whitespace before <paramref name="e"/> on its line.</summary>
    public static string IndentOf(XElement e)
    {
        if (e.PreviousNode is XText { Value: var text } && string.IsNullOrWhiteSpace(text) && text.Contains('\n'))
        {
            return text[(text.LastIndexOf('\n') + 1)..];
        }
        return "";
    }

    /// <summary>One level of indentation as this file writes it (two spaces when it cannot tell).</summary>
    public static string UnitOf(XElement e)
    {
        string own = IndentOf(e);
        string parent = e.Parent is { } p ? IndentOf(p) : "";
        return own.Length > parent.Length && own.StartsWith(parent, StringComparison.Ordinal) ? own[parent.Length..] : DefaultUnit;
    }

    public static void InsertAfter(XElement anchor, XElement added)
    {
        string indent = IndentOf(anchor);
        Format(added, indent, UnitOf(anchor));
        anchor.AddAfterSelf(new XText("\n" + indent), added);
    }

    /// <summary>Adds <paramref name="added"/> as the last child element of <paramref name="parent"/>, before its closing tag.</summary>
    public static void Append(XElement parent, XElement added)
    {
        string unit = parent.Elements().FirstOrDefault() is { } first ? UnitOf(first) : DefaultUnit;
        string indent = IndentOf(parent) + unit;
        Format(added, indent, unit);
        if (parent.LastNode is XText { Value: var tail } last && string.IsNullOrWhiteSpace(tail))
        {
            last.AddBeforeSelf(new XText("\n" + indent), added);
        }
        else
        {
            parent.Add(new XText("\n" + indent), added, new XText("\n" + IndentOf(parent)));
        }
    }

    public static void Replace(XElement old, XElement added)
    {
        Format(added, IndentOf(old), UnitOf(old));
        old.ReplaceWith(added);
    }

    /// <summary>Removes the element and the line break and indentation in front of it.</summary>
    public static void Remove(XElement e)
    {
        if (e.PreviousNode is XText { Value: var text } before && string.IsNullOrWhiteSpace(text))
        {
            before.Remove();
        }
        e.Remove();
    }

    /// <summary>True when only whitespace is left inside (no elements, comments or text).</summary>
    public static bool IsEmpty(XElement e) =>
        !e.HasAttributes && e.Nodes().All(n => n is XText { Value: var t } && string.IsNullOrWhiteSpace(t));

    /// <summary>Lays out a newly built element (no whitespace of its own) one child per line.</summary>
    public static void Format(XElement e, string indent, string unit)
    {
        var children = e.Elements().ToList();
        if (children.Count == 0)
        {
            return;
        }
        string inner = indent + unit;
        foreach (XElement child in children)
        {
            child.AddBeforeSelf(new XText("\n" + inner));
            Format(child, inner, unit);
        }
        e.Add(new XText("\n" + indent));
    }
}
