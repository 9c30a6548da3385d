using System.Text;
using System.Text.Json;

namespace Kestrel.Wsgi.Tests.Infrastructure;

public static class Json
{
    public static JsonElement Parse(byte[] utf8)
    {
        using var doc = JsonDocument.Parse(utf8);
        return doc.RootElement.Clone();
    }

    public static JsonElement Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response) =>
        Parse(await response.Content.ReadAsByteArrayAsync());

    /// <summary>Key names only: an environ may carry values that do not belong in a test log.</summary>
    private static string Keys(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object ? "keys: " + string.Join(", ", e.EnumerateObject().Select(p => p.Name)) : e.ValueKind.ToString();

    /// <summary>The string value of <paramref name="key"/>; fails if absent or not a string.</summary>
    public static string Str(this JsonElement e, string key)
    {
        Assert.True(e.TryGetProperty(key, out var v), $"environ has no {key}; {Keys(e)}");
        Assert.True(v.ValueKind == JsonValueKind.String, $"environ[{key}] is {v.ValueKind}, not a str: {v}");
        return v.GetString()!;
    }

    public static bool Bool(this JsonElement e, string key)
    {
        Assert.True(e.TryGetProperty(key, out var v), $"environ has no {key}; {Keys(e)}");
        Assert.True(v.ValueKind is JsonValueKind.True or JsonValueKind.False, $"environ[{key}] is {v.ValueKind}, not a bool: {v}");
        return v.GetBoolean();
    }

    public static bool Has(this JsonElement e, string key) => e.TryGetProperty(key, out _);
}
