using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;

namespace FastPt.Plots;

/// <summary>Draws a <see cref="Chart"/> with ScottPlot and saves it as PNG and SVG. Log scales are drawn as the
/// logarithm of the values with ticks labelled in the values themselves.</summary>
internal static class PlotRenderer
{
    public const int Width = 960;
    public const int Height = 600;

    /// <summary>Writes <c>NAME.png</c> and <c>NAME.svg</c> into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Save(Chart chart, string directory)
    {
        ArgumentNullException.ThrowIfNull(chart);
        Plot plot = Build(chart);
        string png = Path.Combine(directory, chart.Name + ".png");
        string svg = Path.Combine(directory, chart.Name + ".svg");
        plot.SavePng(png, Width, Height);
        plot.SaveSvg(svg, Width, Height);
        return [png, svg];
    }

    private static Plot Build(Chart chart)
    {
        var plot = new Plot();
        Func<double, double> x = chart.LogX ? Math.Log2 : value => value;
        Func<double, double> y = chart.LogY ? Math.Log10 : value => value;
        var palette = new ScottPlot.Palettes.Category10();
        string[] groups = chart.Series.Select(series => series.Group ?? series.Name).Distinct().ToArray();
        foreach (Series series in chart.Series)
        {
            double[] xs = series.X.Select(x).ToArray();
            double[] ys = series.Y.Select(y).ToArray();
            // Error bars in the drawn scale: on a log axis the distance to log(value ± error).
            double[] below = series.Y.Select((value, i) => ys[i] - y(Math.Max(value - series.ErrorBelow[i], value * 1e-3))).ToArray();
            double[] above = series.Y.Select((value, i) => y(value + series.ErrorAbove[i]) - ys[i]).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = series.Name;
            scatter.Color = palette.GetColor(Array.IndexOf(groups, series.Group ?? series.Name));
            scatter.MarkerShape = series.Squares ? MarkerShape.FilledSquare : MarkerShape.FilledCircle;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 8;
            if (series.Baseline)
            {
                scatter.LinePattern = LinePattern.Dashed;
                scatter.MarkerShape = series.Squares ? MarkerShape.OpenSquare : MarkerShape.OpenCircle;
            }
            if (below.Any(value => value > 0) || above.Any(value => value > 0))
            {
                var bars = plot.Add.ErrorBar(xs, ys, above);
                bars.YErrorNegative = below;
                bars.Color = scatter.Color;
                bars.LineWidth = 1;
            }
        }
        plot.Title(chart.Title);
        // The caption (CPU, date) is the second line under the X axis, in plain type so that it fits.
        plot.XLabel(chart.XLabel + "\n" + chart.Caption, 13);
        plot.Axes.Bottom.Label.Bold = false;
        plot.YLabel(chart.YLabel);
        double[] xValues = chart.Series.SelectMany(series => series.X).Distinct().Order().ToArray();
        if (chart.LogX || xValues.Length <= 12)
            plot.Axes.Bottom.SetTicks(xValues.Select(x).ToArray(), xValues.Select(chart.XFormat).ToArray());
        if (chart.LogY)
        {
            double[] yValues = chart.Series.SelectMany(series => series.Y).Where(value => value > 0).ToArray();
            double[] ticks = DecadeTicks(yValues.Min(), yValues.Max());
            plot.Axes.Left.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(Number).ToArray());
        }
        else
        {
            plot.Axes.SetLimitsY(0, chart.Series.SelectMany(series => series.Y.Select((value, i) => value + series.ErrorAbove[i])).Max() * 1.15);
        }
        // A little room on both sides of the outermost points.
        double left = xValues.Select(x).Min(), right = xValues.Select(x).Max();
        double pad = Math.Max((right - left) * 0.06, 0.5);
        plot.Axes.SetLimitsX(left - pad, right + pad);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>1-2-5 ticks from below <paramref name="min"/> to above <paramref name="max"/>.</summary>
    public static double[] DecadeTicks(double min, double max)
    {
        var ticks = new List<double>();
        double decade = Math.Pow(10, Math.Floor(Math.Log10(min)));
        while (decade <= max * 10)
        {
            foreach (double step in new[] { 1.0, 2.0, 5.0 })
            {
                double tick = decade * step;
                if (tick >= min / 2.5 && tick <= max * 2.5) ticks.Add(tick);
            }
            decade *= 10;
        }
        return ticks.ToArray();
    }

    private static string Number(double value) => value.ToString(value >= 1 ? "#,0.##" : "0.###", CultureInfo.InvariantCulture);
}
