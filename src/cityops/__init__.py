"""cityops: a city operations platform (城市运行管理服务平台) for a district's command centre."""

__version__ = "0.1.0"
