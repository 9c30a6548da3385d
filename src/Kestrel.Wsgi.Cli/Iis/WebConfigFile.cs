using System.Text;
using System.Xml;
using System.Xml.Linq;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// A web.config loaded so that writing it back changes only what was edited: whitespace between elements,
/// comments, the XML declaration as written, the byte order mark and the line endings are kept.
/// </summary>
internal sealed class WebConfigFile
{
    private readonly string? _declaration;
    private readonly Encoding _encoding;
    private readonly bool _byteOrderMark;
    private readonly string _newLine;

    public XDocument Document { get; }

    private WebConfigFile(XDocument document, string? declaration, Encoding encoding, bool byteOrderMark, string newLine)
    {
        Document = document;
        _declaration = declaration;
        _encoding = encoding;
        _byteOrderMark = byteOrderMark;
        _newLine = newLine;
    }

    public static WebConfigFile Load(string path)
    {
        if (Directory.Exists(path))
        {
            throw new UsageException($"{path} is a folder, not a web.config file");
        }
        if (!File.Exists(path))
        {
            throw new UsageException($"{path} does not exist");
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read {path}: {ex.Message}");
        }
        bool bom = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) || bytes.AsSpan().StartsWith(Encoding.Unicode.Preamble)
            || bytes.AsSpan().StartsWith(Encoding.BigEndianUnicode.Preamble);
        string text;
        Encoding encoding;
        using (var reader = new StreamReader(new MemoryStream(bytes), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true))
        {
            text = reader.ReadToEnd();
            encoding = reader.CurrentEncoding;
        }
        XDocument document;
        try
        {
            document = XDocument.Parse(text, LoadOptions.PreserveWhitespace);
        }
        catch (XmlException ex)
        {
            throw new UsageException($"{path} is not XML: {ex.Message}");
        }
        if (document.Root?.Name.LocalName != "configuration")
        {
            throw new UsageException($"{path} is not a web.config: its root element is <{document.Root?.Name.LocalName}>, not <configuration>");
        }
        string? declaration = null;
        if (document.Declaration is not null && text.StartsWith("<?xml", StringComparison.Ordinal))
        {
            declaration = text[..(text.IndexOf("?>", StringComparison.Ordinal) + 2)];
        }
        return new WebConfigFile(document, declaration, encoding, bom, text.Contains("\r\n") ? "\r\n" : "\n");
    }

    public static WebConfigFile New(XDocument document) =>
        new(document, "<?xml version=\"1.0\" encoding=\"utf-8\"?>", new UTF8Encoding(false), false, OperatingSystem.IsWindows() ? "\r\n" : "\n");

    public string ToText()
    {
        var settings = new XmlWriterSettings
        {
            OmitXmlDeclaration = true,
            NewLineHandling = NewLineHandling.Replace,
            NewLineChars = _newLine,
            Indent = false,
        };
        var text = new StringBuilder(_declaration);
        using (var writer = XmlWriter.Create(text, settings))
        {
            Document.Save(writer);
        }
        return text.ToString();
    }

    /// <summary>Writes to a temporary file next to <paramref name="path"/> and moves it over, so IIS never reads half a file.</summary>
    public void Save(string path)
    {
        byte[] body = _encoding.GetBytes(ToText());
        byte[] bytes = _byteOrderMark ? [.. _encoding.Preamble, .. body] : body;
        string temporary = path + ".kwsgi-new";
        try
        {
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // The message below says what went wrong; a leftover .kwsgi-new file does no harm.
            }
            throw new UsageException($"cannot write {path}: {ex.Message}");
        }
    }

    /// <summary>Copies <paramref name="path"/> to path.bak, or path.bak.1, .2 … when a backup is already there; returns the backup's path.</summary>
    public static string Backup(string path)
    {
        for (int n = 0; ; n++)
        {
            string backup = n == 0 ? path + ".bak" : $"{path}.bak.{n}";
            if (File.Exists(backup) || Directory.Exists(backup))
            {
                continue;
            }
            try
            {
                File.Copy(path, backup, overwrite: false);
                return backup;
            }
            catch (IOException) when (File.Exists(backup))
            {
                // Someone else took this name in the meantime: try the next.
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot write the backup {backup}: {ex.Message}");
            }
        }
    }
}
