using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Xml;

namespace FastPt.Cli.Rendering;

/// <summary>Writes a <see cref="MapPicture"/> as SVG: a title, a legend, and per band a heading, column offsets and
/// rows of cells labelled with their start address. Every cell is a <c>rect</c> of class <c>cell</c> plus its leaf
/// class, with <c>data-va</c> (first address), <c>data-leaf</c> (4K, 2M, 1G, mixed, none), <c>data-mapped</c>
/// (mapped bytes, for 4K and mixed cells), <c>data-unused</c> (0xFD-marked memmap bytes, when any) and
/// <c>data-hvo</c> (memmap bytes mapped read-only by the HugeTLB vmemmap optimization, when any); each band
/// is a <c>g</c> with <c>data-start</c>, <c>data-end</c> and <c>data-cell</c> (bytes per cell), and a folded run of
/// empty rows a <c>text</c> of class <c>gap</c> with <c>data-start</c> and <c>data-end</c>.</summary>
internal static class SvgMapWriter
{
    private const string SvgNamespace = "http://www.w3.org/2000/svg";
    private const int Left = 176;
    private const int Right = 24;
    private const int CellWidth = 8;
    private const int CellHeight = 12;
    private const int RowPitch = 14;
    private const int GapPitch = 18;
    private const int BandHeading = 36;
    private const int BandSpacing = 16;
    private const int Top = 112;

    private const string Style =
        "text{font-family:'DejaVu Sans',Verdana,sans-serif;fill:#222}"
        + ".title{font-size:16px;font-weight:bold}.sub{font-size:12px;fill:#444}.band{font-size:13px;font-weight:bold}"
        + ".addr{font-family:'DejaVu Sans Mono',Menlo,monospace;font-size:10px;fill:#555}.gap{font-size:11px;fill:#777;font-style:italic}"
        + ".legend{font-size:11px}"
        + ".k4{fill:#2f6db5}.m2{fill:#f28e2b}.g1{fill:#3a9a4a}.mixed{fill:#8e5fa8}.none{fill:#ececec}.fd{fill:#d62728}.hvo{fill:#17becf}";

    /// <summary>Writes <paramref name="picture"/> to <paramref name="stream"/> as UTF-8 SVG.</summary>
    public static void Write(MapPicture picture, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(picture);
        ArgumentNullException.ThrowIfNull(stream);
        var settings = new XmlWriterSettings { Indent = false, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using XmlWriter xml = XmlWriter.Create(stream, settings);
        int width = Left + MapPicture.Columns * CellWidth + Right;
        // A long title (machine, then the state drawn) breaks before its last part.
        int split = picture.Title.Length > 100 ? picture.Title.LastIndexOf(" · ", StringComparison.Ordinal) : -1;
        int shift = split > 0 ? 18 : 0;
        int height = Top + shift + picture.Bands.Sum(BandHeight) + BandSpacing * picture.Bands.Count;

        xml.WriteStartDocument();
        xml.WriteStartElement("svg", SvgNamespace);
        Attribute(xml, "width", width);
        Attribute(xml, "height", height);
        xml.WriteAttributeString("viewBox", FormattableString.Invariant($"0 0 {width} {height}"));
        xml.WriteAttributeString("data-space", picture.Subject);
        xml.WriteElementString("title", SvgNamespace, picture.Title);
        xml.WriteElementString("style", SvgNamespace, Style);
        Rect(xml, 0, 0, width, height, "background").WriteAttributeString("fill", "#ffffff");
        xml.WriteEndElement();

        if (split > 0)
        {
            Text(xml, 12, 24, "title", picture.Title[..split]);
            Text(xml, 12, 42, "band", picture.Title[(split + 3)..]);
        }
        else Text(xml, 12, 24, "title", picture.Title);
        ulong[] cellSizes = picture.Bands.Select(band => band.CellBytes).Distinct().ToArray();
        string cells = cellSizes.Length == 1
            ? $"one cell = {CellName(cellSizes[0])}"
            : "one cell = " + string.Join(" or ", cellSizes.Select(CellName)) + " (each band says which)";
        Text(xml, 12, 44 + shift, "sub", $"{cells}, {MapPicture.Columns} cells per row. Colour: the leaf size that maps the cell; "
            + "shade: the share of the cell that is mapped (for 4K cells, the PTE table's present entries of 512).");
        WriteLegend(xml, picture, shift);

        int y = Top + shift;
        foreach (MapBand band in picture.Bands)
        {
            WriteBand(xml, band, y);
            y += BandHeight(band) + BandSpacing;
        }
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private static int BandHeight(MapBand band) =>
        BandHeading + band.Rows.Sum(row => row is MapGap ? GapPitch : RowPitch);

    private static void WriteLegend(XmlWriter xml, MapPicture picture, int shift)
    {
        var entries = new List<(string Class, double Opacity, string Label)>
        {
            ("k4", 1, "4K leaves"),
            ("k4", 0.2 + 0.8 * 0.125, "4K, 64 of 512 PTEs"),
            ("m2", 1, "2M leaves"),
            ("g1", 1, "1G leaf"),
        };
        if (picture.Bands.Any(band => band.CellBytes == MapPicture.Cell1G)) entries.Add(("mixed", 1, "4K and 2M leaves"));
        entries.Add(("none", 1, "not mapped"));
        // The 0xFD entry only where a vmemmap is drawn; the HVO entry only where HVO remapped something.
        if (picture.Bands.Any(band => band.IsVmemmap)) entries.Add(("fd", 1, "memmap marked 0xFD (unused), bar height = share"));
        if (picture.Bands.Any(band => band.Rows.OfType<CellRow>().Any(row => row.Cells.Any(cell => cell.ReadOnlyMemmapBytes > 0))))
            entries.Add(("hvo", 1, "memmap remapped read-only by HVO (bottom bar, height = share)"));
        int x = 12;
        int y = 62 + shift;
        foreach ((string cls, double opacity, string label) in entries)
        {
            Rect(xml, x, y, 12, 12, cls);
            if (opacity < 1) xml.WriteAttributeString("style", Opacity(opacity));
            xml.WriteEndElement();
            Text(xml, x + 16, y + 10, "legend", label);
            x += 24 + (int)Math.Ceiling(label.Length * 6.2);
        }
        Text(xml, 12, 92 + shift, "sub", "Row labels: the first address of the row; column labels: the offset from it.");
    }

    private static void WriteBand(XmlWriter xml, MapBand band, int top)
    {
        xml.WriteStartElement("g", SvgNamespace);
        xml.WriteAttributeString("class", "map-band");
        xml.WriteAttributeString("data-name", band.Name);
        xml.WriteAttributeString("data-start", Hex(band.Start));
        xml.WriteAttributeString("data-end", Hex(band.End));
        xml.WriteAttributeString("data-cell", band.CellBytes.ToString(CultureInfo.InvariantCulture));
        ulong rowBytes = band.CellBytes * MapPicture.Columns;
        Text(xml, 12, top + 14, "band", $"{band.Name}: {MapPicture.GroupedHex(band.Start)} – {MapPicture.GroupedHex(band.End)} "
            + $"({Readable(band.End - band.Start)}), one cell = {CellName(band.CellBytes)}, a row = {Readable(rowBytes)}");
        for (int column = 0; column <= MapPicture.Columns; column += MapPicture.Columns / 4)
        {
            string label = column == 0 ? "+0" : "+" + Readable(band.CellBytes * (ulong)column);
            Text(xml, Left + column * CellWidth - (column == MapPicture.Columns ? label.Length * 6 : 0), top + 30, "addr", label);
        }
        int y = top + BandHeading;
        foreach (MapRow row in band.Rows)
        {
            if (row is MapGap gap)
            {
                xml.WriteStartElement("text", SvgNamespace);
                Attribute(xml, "x", Left);
                Attribute(xml, "y", y + 12);
                xml.WriteAttributeString("class", "gap");
                xml.WriteAttributeString("data-start", Hex(gap.Start));
                xml.WriteAttributeString("data-end", Hex(gap.End));
                xml.WriteString($"⋮ {MapPicture.GroupedHex(gap.Start)} – {MapPicture.GroupedHex(gap.End)}: nothing mapped ({Readable(gap.End - gap.Start)})");
                xml.WriteEndElement();
                y += GapPitch;
                continue;
            }
            List<MapCell> cells = ((CellRow)row).Cells;
            Text(xml, 12, y + 10, "addr", MapPicture.GroupedHex(cells[0].Start));
            for (int i = 0; i < cells.Count; i++) WriteCell(xml, band, cells[i], Left + i * CellWidth, y);
            y += RowPitch;
        }
        xml.WriteEndElement();
    }

    private static void WriteCell(XmlWriter xml, MapBand band, MapCell cell, int x, int y)
    {
        (string cls, string name) = cell.Leaf switch
        {
            CellLeaf.Size4K => ("k4", "4K"),
            CellLeaf.Size2M => ("m2", "2M"),
            CellLeaf.Size1G => ("g1", "1G"),
            CellLeaf.Mixed => ("mixed", "mixed"),
            _ => ("none", "none"),
        };
        Rect(xml, x, y, CellWidth - 1, CellHeight, "cell " + cls);
        xml.WriteAttributeString("data-va", Hex(cell.Start));
        xml.WriteAttributeString("data-leaf", name);
        if (cell.Leaf is CellLeaf.Size4K or CellLeaf.Mixed)
        {
            xml.WriteAttributeString("data-mapped", cell.MappedBytes.ToString(CultureInfo.InvariantCulture));
            double share = (double)cell.MappedBytes / band.CellBytes;
            if (share < 1) xml.WriteAttributeString("style", Opacity(0.2 + 0.8 * share));
        }
        if (cell.UnusedBytes > 0) xml.WriteAttributeString("data-unused", cell.UnusedBytes.ToString(CultureInfo.InvariantCulture));
        if (cell.ReadOnlyMemmapBytes > 0) xml.WriteAttributeString("data-hvo", cell.ReadOnlyMemmapBytes.ToString(CultureInfo.InvariantCulture));
        xml.WriteEndElement();
        if (cell.ReadOnlyMemmapBytes > 0)
        {
            // A cyan bar from the bottom of the cell, as tall as the share HVO remapped (at least a pixel).
            int height = Math.Max(1, (int)Math.Round((double)cell.ReadOnlyMemmapBytes / band.CellBytes * CellHeight));
            Rect(xml, x, y + CellHeight - height, CellWidth - 1, height, "hvo");
            xml.WriteEndElement();
        }
        if (cell.UnusedBytes > 0)
        {
            // A red bar from the top of the cell, as tall as the marked share (at least a pixel).
            double share = (double)cell.UnusedBytes / band.CellBytes;
            Rect(xml, x, y, CellWidth - 1, Math.Max(1, (int)Math.Round(share * CellHeight)), "fd");
            xml.WriteEndElement();
        }
    }

    /// <summary>Starts a rect (the caller adds attributes and ends it).</summary>
    private static XmlWriter Rect(XmlWriter xml, int x, int y, int width, int height, string cls)
    {
        xml.WriteStartElement("rect", SvgNamespace);
        Attribute(xml, "x", x);
        Attribute(xml, "y", y);
        Attribute(xml, "width", width);
        Attribute(xml, "height", height);
        xml.WriteAttributeString("class", cls);
        return xml;
    }

    private static void Text(XmlWriter xml, int x, int y, string cls, string text)
    {
        xml.WriteStartElement("text", SvgNamespace);
        Attribute(xml, "x", x);
        Attribute(xml, "y", y);
        xml.WriteAttributeString("class", cls);
        xml.WriteString(text);
        xml.WriteEndElement();
    }

    private static void Attribute(XmlWriter xml, string name, int value) =>
        xml.WriteAttributeString(name, value.ToString(CultureInfo.InvariantCulture));

    private static string Opacity(double value) => "fill-opacity:" + value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static string CellName(ulong bytes) => Readable(bytes);

    /// <summary>4 GiB, 256 MiB, 0 B: binary units spelled out.</summary>
    public static string Readable(ulong bytes)
    {
        string compact = Parsing.SizeParser.Format(bytes);
        return compact.EndsWith(" B", StringComparison.Ordinal) ? compact : compact[..^1] + " " + compact[^1] + "iB";
    }
}
