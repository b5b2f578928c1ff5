-- @schema: staging
-- @tags: [streams]
-- @strategy: append
-- @cursor: _stream_offset
-- @description: "Page views as they arrive: each run appends only the events it has not seen yet."
select
    _stream_offset,
    cast(_stream_received_at as timestamp) as viewed_at,
    product_id,
    session_id,
    coalesce(nullif(trim(referrer), ''), 'direct') as referrer
from page_views
